"""The PyTorch reference networks, with non-trivial weights, and the comparison against ours."""
import numpy as np
import mindspore as ms

from conftest import require

from zoo_core.convert import load_weights, rename_torch_state_dict

torch = require('torch')


def authors_resnest(name):
    """The ResNeSt authors' network (`pip install resnest==0.0.5`), initialised from REFERENCE_SEED."""
    import resnest.torch as reference
    torch.manual_seed(REFERENCE_SEED)
    return getattr(reference, name)()


def timm_model(name):
    """timm's network of that name, initialised from REFERENCE_SEED."""
    timm = require('timm')
    torch.manual_seed(REFERENCE_SEED)
    return timm.create_model(name, pretrained=False)


def torchvision_model(name):
    """torchvision's network of that name, initialised from REFERENCE_SEED."""
    torchvision = require('torchvision')
    torch.manual_seed(REFERENCE_SEED)
    return getattr(torchvision.models, name)(weights=None)


# Gamma ranges of the random BN affine parameters: the last BN of a residual branch is kept small, as in
# trained networks, so that activations do not grow at every block. fp32 error grows with them: with
# (0.1, 0.3) resnest50d_4s2x40d's logits (std 2.6) differed from the reference by up to 2.3e-4 in fp32
# on some seeds; with (0.05, 0.15) by 5e-6 (logit std 0.47), the same for every seed tried.
BN_GAMMA_RANGE = (0.5, 1.5)
LAST_BN_GAMMA_RANGE = (0.05, 0.15)
REFERENCE_SEED = 0


def make_non_trivial(model, seed=0, input_size=64):
    """Random BN affine parameters (no zeroed residual branch) and BN statistics measured on random
    data, so that every layer's numerics matter and activations stay well scaled; eval mode, fp32."""
    generator = torch.Generator().manual_seed(seed)
    batch_norms = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for name, bn in batch_norms:
            low, high = LAST_BN_GAMMA_RANGE if name.endswith('bn3') else BN_GAMMA_RANGE
            bn.weight.uniform_(low, high, generator=generator)
            bn.bias.normal_(0.0, 0.2, generator=generator)
            bn.momentum = 1.0  # running stats := this batch's stats
        model.train()
        model(torch.randn(4, 3, input_size, input_size, generator=generator))
        for _, bn in batch_norms:
            bn.running_var.mul_(torch.empty_like(bn.running_var).uniform_(0.8, 1.25, generator=generator))
    return model.eval()


def numpy_state_dict(model):
    """The model's state dict as numpy arrays."""
    return {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def copy_reference_weights(reference, ours):
    """Load the reference's weights into our network through the rename table; our net in eval mode."""
    load_weights(ours, rename_torch_state_dict(numpy_state_dict(reference)))
    ours.set_train(False)
    return ours


def logits_of_both(reference, ours, input_size, batch=2, seed=1):
    """(reference logits, our logits) on the same random images."""
    images = np.random.default_rng(seed).standard_normal((batch, 3, input_size, input_size)).astype(np.float32)
    with torch.no_grad():
        expected = reference(torch.from_numpy(images)).numpy()
    actual = ours(ms.Tensor(images)).asnumpy()
    return expected, actual
