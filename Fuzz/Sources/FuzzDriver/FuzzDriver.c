// FuzzDriver.c — nothing to compile: the target only exposes FuzzDriver.h to Swift.
#include "FuzzDriver.h"
