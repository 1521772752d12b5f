// Carries the precompiled header of the engine tests (test_pch.h).
