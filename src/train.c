/* train.c - training MLPs (see train.h). */
#include "train.h"
