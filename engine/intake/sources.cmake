target_sources(sluice_engine_intake PRIVATE
  intake/backfill.cpp intake/backfill.h
  intake/intakebatch.cpp intake/intakebatch.h
  intake/intakeoptions.cpp intake/intakeoptions.h
  intake/intakeserver.cpp intake/intakeserver.h
  intake/intakestore.cpp intake/intakestore.h
  intake/spool.cpp intake/spool.h
  intake/webhookexchange.cpp intake/webhookexchange.h)
