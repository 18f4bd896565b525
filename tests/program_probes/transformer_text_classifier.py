# TransformerEncoder text classifier (PyTorch tutorial style): positional encoding, src_key_padding_mask, masked mean
# pooling, label smoothing, StepLR; causal masks, norm_first encoder, nn.Transformer and MultiheadAttention weights
import math
import torch
from torch import nn, Tensor
from torch.nn import TransformerEncoder, TransformerEncoderLayer

torch.manual_seed(0)
class PositionalEncoding(nn.Module):
    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer('pe', pe)
    def forward(self, x: Tensor) -> Tensor:
        x = x + self.pe[:x.size(0)]
        return self.dropout(x)
class TransformerModel(nn.Module):
    def __init__(self, ntoken, d_model, nhead, d_hid, nlayers, nclass, dropout=0.1):
        super().__init__()
        self.model_type = 'Transformer'
        self.pos_encoder = PositionalEncoding(d_model, dropout, max_len=64)
        encoder_layers = TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
        self.transformer_encoder = TransformerEncoder(encoder_layers, nlayers, enable_nested_tensor=True)
        self.embedding = nn.Embedding(ntoken, d_model, padding_idx=0)
        self.d_model = d_model
        self.linear = nn.Linear(d_model, nclass)
        self.init_weights()
    def init_weights(self) -> None:
        initrange = 0.1
        self.embedding.weight.data.uniform_(-initrange, initrange)
        self.linear.bias.data.zero_()
        self.linear.weight.data.uniform_(-initrange, initrange)
    def forward(self, src, src_key_padding_mask=None):
        src = self.embedding(src) * math.sqrt(self.d_model)
        src = self.pos_encoder(src)
        output = self.transformer_encoder(src, src_key_padding_mask=src_key_padding_mask)
        mask = (~src_key_padding_mask).t().unsqueeze(-1).float()
        pooled = (output * mask).sum(0) / mask.sum(0)
        return self.linear(pooled)
model = TransformerModel(20, 16, 2, 32, 2, 3)
print(sum(p.numel() for p in model.parameters()))
src = torch.randint(1, 20, (7, 4))
lengths = torch.tensor([7, 5, 3, 6])
pad_mask = torch.arange(7)[None, :] >= lengths[:, None]
src = src.masked_fill(pad_mask.t(), 0)
labels = torch.tensor([0, 1, 2, 1])
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
sched = torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.95)
crit = nn.CrossEntropyLoss(label_smoothing=0.1)
for step in range(4):
    model.train()
    logits = model(src, pad_mask)
    loss = crit(logits, labels)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    opt.step()
    sched.step()
    print(step, round(loss.item(), 5), sched.get_last_lr())
model.eval()
with torch.no_grad():
    out = model(src, pad_mask)
    print(out)
    print(model.transformer_encoder(torch.randn(7, 4, 16), src_key_padding_mask=pad_mask)[6])
# seq2seq-style LM with causal mask
mask = nn.Transformer.generate_square_subsequent_mask(5)
print(mask)
layer = TransformerEncoderLayer(16, 2, 32, 0.0, batch_first=True, norm_first=True, activation="gelu")
enc = TransformerEncoder(layer, 2, norm=nn.LayerNorm(16))
x = torch.randn(2, 5, 16)
y = enc(x, mask=mask, is_causal=True)
print(y[0, 0, :4], y.shape)
tr = nn.Transformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16, dropout=0.0, batch_first=True)
o = tr(torch.randn(2, 5, 16), torch.randn(2, 4, 16), tgt_mask=tr.generate_square_subsequent_mask(4))
print(o[1, 3, :4])
mha = nn.MultiheadAttention(16, 4, batch_first=True)
ao, aw = mha(x, x, x, key_padding_mask=torch.tensor([[False]*5, [False]*3 + [True]*2]), need_weights=True, average_attn_weights=False)
print(aw.shape, aw[1, 0, 0])
