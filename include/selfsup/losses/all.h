#pragma once
// Every self-supervised and semi-supervised loss: functional forms in selfsup::functional,
// modules in selfsup::losses.
#include "selfsup/losses/barlow_twins.h"
#include "selfsup/losses/byol.h"
#include "selfsup/losses/class_contrast.h"
#include "selfsup/losses/consistency.h"
#include "selfsup/losses/dist_align.h"
#include "selfsup/losses/flexmatch.h"
#include "selfsup/losses/info_nce.h"
#include "selfsup/losses/masked_mean.h"
#include "selfsup/losses/mixup.h"
#include "selfsup/losses/nt_xent.h"
#include "selfsup/losses/pseudo_label.h"
#include "selfsup/losses/simsiam.h"
#include "selfsup/losses/supcon.h"
#include "selfsup/losses/uda.h"
#include "selfsup/losses/vat.h"
#include "selfsup/losses/vicreg.h"
