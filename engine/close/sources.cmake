target_sources(sluice_engine PRIVATE)
