import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.parametrize as parametrize
from torch.nn.utils import parametrizations, weight_norm, spectral_norm

torch.manual_seed(0)
class Symmetric(nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).transpose(-1, -2)
layer = nn.Linear(3, 3)
parametrize.register_parametrization(layer, "weight", Symmetric())
print(layer)
print(torch.allclose(layer.weight, layer.weight.T))
print(layer.parametrizations.weight.original.shape)
print(parametrize.is_parametrized(layer), parametrize.is_parametrized(layer, "bias"))
orth = parametrizations.orthogonal(nn.Linear(4, 4))
Q = orth.weight
print(torch.dist(Q.T @ Q, torch.eye(4)) < 1e-5)
wn = parametrizations.weight_norm(nn.Linear(5, 3))
print(sorted(n for n, _ in wn.named_parameters()))
print(wn.parametrizations.weight.original0.shape, wn.parametrizations.weight.original1.shape)
sn = parametrizations.spectral_norm(nn.Linear(5, 4))
y = sn(torch.randn(2, 5))
print(y.shape, sorted(k for k in sn.state_dict().keys()))
parametrize.remove_parametrizations(layer, "weight")
print(layer, type(layer.weight).__name__)
# hooks
acts = {}
def fwd_hook(name):
    def hook(m, inp, out):
        acts[name] = out.detach()
    return hook
net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
h1 = net[0].register_forward_hook(fwd_hook("conv"))
grads = []
h2 = net[3].register_full_backward_hook(lambda m, gi, go: grads.append((gi[0].shape, go[0].shape)))
h3 = net.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
x = torch.randn(2, 1, 8, 8, requires_grad=True)
out = net(x)
th = x.register_hook(lambda g: g * 0)
out.sum().backward()
print(acts["conv"].shape, grads, x.grad.abs().sum().item())
h1.remove(); h2.remove(); h3.remove(); th.remove()
print(len(net[0]._forward_hooks), len(net._forward_pre_hooks))
# module API
print(net)
print([n for n, _ in net.named_modules()])
print(sum(p.numel() for p in net.parameters() if p.requires_grad))
net.apply(lambda m: nn.init.kaiming_uniform_(m.weight, a=0.1) if isinstance(m, nn.Linear) else None)
print(net.state_dict()["3.weight"].std().item() > 0)
net.requires_grad_(False)
print(any(p.requires_grad for p in net.parameters()))
print(net[3].extra_repr())
mm = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.ReLU()})
pl = nn.ParameterList([nn.Parameter(torch.ones(2)) for _ in range(2)])
pd = nn.ParameterDict({"w": nn.Parameter(torch.zeros(3))})
print(mm); print(pl); print(pd)
b = nn.BatchNorm1d(3)
b.register_buffer("extra", torch.zeros(1), persistent=False)
print(list(b.state_dict().keys()))
print(list(dict(b.named_buffers()).keys()))
e = torch.einsum("bij,bjk->bik", torch.randn(2, 3, 4), torch.randn(2, 4, 5))
print(e.shape, torch.einsum("ii", torch.eye(3)).item(), torch.einsum("i,j->ij", torch.arange(3.), torch.arange(2.)))
print(torch.einsum("b h i d, b h j d -> b h i j", torch.ones(1, 2, 3, 4), torch.ones(1, 2, 5, 4)).shape)
params = [nn.Parameter(torch.randn(3, 3)) for _ in range(2)]
for p in params: p.grad = torch.randn(3, 3) * 10
tn = nn.utils.clip_grad_norm_(params, 1.0, norm_type=2.0)
print(tn, nn.utils.clip_grad_value_(params, 0.05), params[0].grad.abs().max())
v = nn.utils.parameters_to_vector(params); print(v.shape)
nn.utils.vector_to_parameters(v * 0, params); print(params[0].sum())
old = weight_norm(nn.Linear(3, 2)); print(sorted(n for n, _ in old.named_parameters()))
