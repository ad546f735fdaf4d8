#pragma once
// Every backbone and head.
#include "selfsup/nets/backbone.h"
#include "selfsup/nets/convnet.h"
#include "selfsup/nets/heads.h"
#include "selfsup/nets/mae.h"
#include "selfsup/nets/mlp.h"
#include "selfsup/nets/resnet.h"
#include "selfsup/nets/batchnorm.h"
#include "selfsup/nets/vit.h"
