target_sources(sluice_engine_instantly PRIVATE
  instantly/instantlyclient.cpp instantly/instantlyclient.h
  instantly/instantlytypes.h)
