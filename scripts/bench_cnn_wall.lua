-- bench_cnn_wall.lua - WALL time of conv net training steps or eval batches
-- on random data (bench_cnn_step.lua measures CPU time; this one measures
-- what threads buy).
--
--   OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 \
--     llfc -e "ARCH='resnet20'; MODE='train'; STEPS=8" scripts/bench_cnn_wall.lua
--
-- ARCH 'resnet20' (WIDTH, NORM) or 'vgg' (VGG-11); MODE 'train' or 'eval';
-- STEPS timed batches of 128 random 3x32x32 images after 2 warm-up batches.
-- It is bench_cnn_step.lua with CLOCK = "wall" (STEPS defaults to 8 here).
CLOCK = "wall"
STEPS = STEPS or 8
dofile(((arg and arg[0] or ""):match("^(.*[/\\])") or "./") .. "bench_cnn_step.lua")
