/* train.h - training MLPs: SGD with momentum, schedules, seeded data order,
 * and the trainer state that spawning copies. */
#ifndef LLFC_TRAIN_H
#define LLFC_TRAIN_H

#include "data.h"
#include "nn.h"

#endif
