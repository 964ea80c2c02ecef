target_sources(sluice_engine_delivery PRIVATE
  delivery/deliveryengine.cpp delivery/deliveryengine.h
  delivery/instancelease.cpp delivery/instancelease.h)
