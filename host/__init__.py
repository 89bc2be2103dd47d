"""Host side of the firmware: PlatformIO setup, serial link, emulators, evaluation harness."""
