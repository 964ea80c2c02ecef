target_sources(sluice_engine PRIVATE
  close/closeclient.cpp close/closeclient.h
  close/closelead.cpp close/closelead.h
  close/jsontypename.cpp close/jsontypename.h
  close/closesignature.cpp close/closesignature.h
  close/closewebhook.cpp close/closewebhook.h)
