#pragma once
// The pieces of a masked autoencoder (He et al. 2021) around a ViT encoder (nets/vit.h): images to
// patch vectors and back, per-sample random masking, fixed 2-D sine-cosine position embeddings and
// the narrow decoder that predicts every patch's pixels from the encoded visible ones.
#include <torch/nn.h>

namespace selfsup::nets {

/// [N, C, H, W] -> [N, (H/p)(W/p), p*p*C]: patches in row-major order, each flattened as
/// (row in patch, column in patch, channel), the layout of the MAE reference code.
torch::Tensor patchify(const torch::Tensor& images, int64_t patch_size);
/// The inverse of patchify for images of `channels` channels and a square grid of patches.
torch::Tensor unpatchify(const torch::Tensor& patches, int64_t patch_size, int64_t channels);

struct RandomMasking {
  torch::Tensor visible;      // [N, keep, D]: the kept tokens, in shuffled order
  torch::Tensor mask;         // [N, L], 1 = masked, 0 = visible, in the original order
  torch::Tensor ids_restore;  // [N, L]: position of each original token in the shuffled order
};

/// Keeps round(L (1 - ratio)) (at least 1, at most L - 1) tokens of each sample of tokens [N, L, D]:
/// each sample's tokens are ordered by `noise` [N, L] (uniform draws), the first ones kept.
RandomMasking random_masking(const torch::Tensor& tokens, double ratio, const torch::Tensor& noise);

/// Number of tokens random_masking keeps of `length` at `ratio`; throws when ratio is outside (0, 1)
/// or would keep none or all of them.
int64_t visible_count(int64_t length, double ratio);

/// [1 + g*g, dim] fixed position embeddings of a g x g grid, a zero row first for the class token:
/// the first half of the features encodes the column, the second the row, each as
/// [sin(pos w_k), cos(pos w_k)] with w_k = 10000^(-k / (dim/4)). dim must be divisible by 4.
torch::Tensor sincos_pos_embed_2d(int64_t dim, int64_t grid_size);

struct MaeDecoderOptions {
  MaeDecoderOptions(int64_t encoder_dim, int64_t num_patches, int64_t patch_pixels)
      : encoder_dim_(encoder_dim), num_patches_(num_patches), patch_pixels_(patch_pixels) {}
  TORCH_ARG(int64_t, encoder_dim);
  /// L, a square number.
  TORCH_ARG(int64_t, num_patches);
  /// p * p * C, what the decoder predicts per patch.
  TORCH_ARG(int64_t, patch_pixels);
  TORCH_ARG(int64_t, dim) = 64;
  TORCH_ARG(int64_t, depth) = 2;
  TORCH_ARG(int64_t, heads) = 4;
  TORCH_ARG(double, mlp_ratio) = 4.0;
};

/// decoder_embed (encoder width -> dim), a learned mask token at every masked position, the fixed
/// sine-cosine position embedding, `depth` transformer blocks, decoder_norm and decoder_pred
/// (dim -> patch_pixels). Parameter names follow the MAE reference code.
class MaeDecoderImpl : public torch::nn::Cloneable<MaeDecoderImpl> {
 public:
  explicit MaeDecoderImpl(MaeDecoderOptions options);
  void reset() override;
  /// encoded [N, 1 + keep, encoder_dim] (class token first, then the visible tokens in shuffled
  /// order), ids_restore [N, L] -> predicted pixels of every patch [N, L, patch_pixels].
  torch::Tensor forward(const torch::Tensor& encoded, const torch::Tensor& ids_restore);
  /// Multiply-accumulates for one image (the decoder sees every patch).
  double forward_flops() const;
  void pretty_print(std::ostream& stream) const override;

  MaeDecoderOptions options;
  torch::nn::Linear decoder_embed{nullptr}, decoder_pred{nullptr};
  torch::Tensor mask_token;         // [1, 1, dim]
  torch::Tensor decoder_pos_embed;  // [1, 1 + L, dim], fixed (a buffer)
  torch::nn::ModuleList decoder_blocks{nullptr};
  torch::nn::LayerNorm decoder_norm{nullptr};
};
TORCH_MODULE(MaeDecoder);

class ViTImpl;

struct MaePrediction {
  torch::Tensor pred;  // [N, L, P]: every patch, as the decoder predicts it
  torch::Tensor mask;  // [N, L], 1 = hidden from the encoder
};

/// One MAE forward pass: the encoder's patch tokens (with positions), the ones `noise` keeps at
/// `mask_ratio` (random_masking) plus the class token through the blocks and the final norm,
/// then the decoder.
MaePrediction mae_forward(ViTImpl& encoder, MaeDecoderImpl& decoder, const torch::Tensor& images, double mask_ratio,
                          const torch::Tensor& noise);

/// Images [N, C, H, W] in the input's space.
struct MaeImages {
  torch::Tensor mask;           // [N, L] patches, 1 = hidden from the encoder
  torch::Tensor masked;         // the input, hidden patches set to 0 (the data's mean)
  torch::Tensor reconstructed;  // the decoder's prediction of every patch
  torch::Tensor pasted;         // the prediction, with the visible patches of the input put back
};

/// The pictures of a prediction of `images`. With norm_pix the prediction is of standardised
/// patches: it is mapped back with each input patch's own mean and unbiased variance + eps, as the
/// reference code's visualisation does (a hidden patch's brightness and contrast come from the
/// original, its shape from the model).
MaeImages mae_images(const torch::Tensor& images, const MaePrediction& p, int64_t patch_size, bool norm_pix,
                     double eps);

}  // namespace selfsup::nets
