#pragma once
// Every self-supervised loss: functional forms in selfsup::functional, modules in selfsup::losses.
#include "selfsup/losses/barlow_twins.h"
#include "selfsup/losses/byol.h"
#include "selfsup/losses/info_nce.h"
#include "selfsup/losses/nt_xent.h"
#include "selfsup/losses/simsiam.h"
#include "selfsup/losses/supcon.h"
#include "selfsup/losses/vicreg.h"
