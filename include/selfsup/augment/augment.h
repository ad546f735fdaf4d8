#pragma once
// Everything in the augment module: batched random transforms, RandAugment, pipelines and view
// sets, presets, and PNG grids for looking at the views.
#include "selfsup/augment/functional.h"
#include "selfsup/augment/pipeline.h"
#include "selfsup/augment/png.h"
#include "selfsup/augment/randaugment.h"
#include "selfsup/augment/transforms.h"
