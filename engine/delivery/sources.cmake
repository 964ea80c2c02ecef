target_sources(sluice_engine PRIVATE
  delivery/deliveryengine.cpp delivery/deliveryengine.h
  delivery/instancelease.cpp delivery/instancelease.h)
