// Compiles the precompiled header the engine parts and the tests share.
