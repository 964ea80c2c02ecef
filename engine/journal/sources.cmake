target_sources(sluice_engine_journal PRIVATE
  journal/leadjournal.cpp journal/leadjournal.h)
