target_sources(sluice_engine PRIVATE
  instantly/instantlyclient.cpp instantly/instantlyclient.h
  instantly/instantlytypes.h)
