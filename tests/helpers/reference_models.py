"""The PyTorch reference networks, with non-trivial weights, and the comparison against ours."""
import copy
import re

import numpy as np
import mindspore as ms
from mindspore import nn

from helpers import require

from zoo_core.weights.fit import load_weights, rename_torch_state_dict

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


def training_batch(input_size, batch=4, num_classes=1000, seed=2):
    """Random images and labels for a gradient comparison."""
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((batch, 3, input_size, input_size)).astype(np.float32)
    return images, rng.integers(0, num_classes, batch).astype(np.int32)


def gradients_under_our_names(model, prefix=''):
    """The gradients left by `backward()` on `model`'s parameters (fp64 arrays), under our parameter names
    (`prefix` for a submodule), in a dict that also holds the (gradient-free) BN statistics: the rename
    table recognises BN modules by them."""
    state = {prefix + key: value for key, value in numpy_state_dict(model).items()}
    state.update({prefix + key: p.grad.double().numpy() for key, p in model.named_parameters()})
    return rename_torch_state_dict(state)


def reference_gradients(reference, images, labels, dtype=torch.float32):
    """(loss, gradients) of the mean cross-entropy, reference in training mode, computed in `dtype`
    (torch.float32 or torch.float64) on a copy; the gradients as `gradients_under_our_names` gives them."""
    model = copy.deepcopy(reference).to(dtype).train()
    logits = model(torch.from_numpy(images).to(dtype))
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels).long())
    loss.backward()
    return loss.item(), gradients_under_our_names(model)


def our_gradients(net, images, labels, graph_mode):
    """(loss, parameter name -> gradient) of the mean cross-entropy, our network in training mode."""
    net.set_train(True)
    loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction='mean')
    params = net.trainable_params()

    def loss_of(x, y):
        return loss_fn(net(x), y)

    grad_fn = ms.value_and_grad(loss_of, None, params)
    if graph_mode:
        grad_fn = ms.jit(grad_fn)
    loss, grads = grad_fn(ms.Tensor(images), ms.Tensor(labels))
    return float(loss.asnumpy()), {p.name: g.asnumpy() for p, g in zip(params, grads)}


BLOCK_NAME = re.compile(r'layer\d\.\d+')


def block_inputs(reference, images):
    """Block name (`layer3.0`) -> the input the reference's fp64 training-mode forward gives that block (fp32)."""
    model = copy.deepcopy(reference).to(torch.float64).train()
    inputs = {}

    def keep_input(name):
        return lambda module, args: inputs.__setitem__(name, args[0].detach().float().numpy())

    hooks = [module.register_forward_pre_hook(keep_input(name))
             for name, module in model.named_modules() if BLOCK_NAME.fullmatch(name)]
    with torch.no_grad():
        model(torch.from_numpy(images).to(torch.float64))
    for hook in hooks:
        hook.remove()
    return inputs


def reference_block_gradients(block, name, x, dout, dtype):
    """(input gradient, `gradients_under_our_names`) of `sum(block(x) * dout)`, the reference's block in
    training mode, computed in `dtype` on a copy; `name` is the block's name in the network."""
    module = copy.deepcopy(block).to(dtype).train()
    x = torch.tensor(x, dtype=dtype, requires_grad=True)
    (module(x) * torch.tensor(dout, dtype=dtype)).sum().backward()
    return x.grad.double().numpy(), gradients_under_our_names(module, prefix=f'{name}.')


def our_block_gradients(block, x, dout, graph_mode):
    """(input gradient, parameter name -> gradient) of `sum(block(x) * dout)`, our block in training mode."""
    block.set_train(True)
    params = block.trainable_params()
    dout = ms.Tensor(dout)

    def objective(inputs):
        return (block(inputs) * dout).sum()

    grad_fn = ms.grad(objective, grad_position=0, weights=params)
    if graph_mode:
        grad_fn = ms.jit(grad_fn)
    input_grad, param_grads = grad_fn(ms.Tensor(x))
    return input_grad.asnumpy(), {p.name: g.asnumpy() for p, g in zip(params, param_grads)}
