target_sources(sluice_engine PRIVATE
  journal/leadjournal.cpp journal/leadjournal.h)
