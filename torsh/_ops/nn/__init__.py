"""The heavy ops under torsh.nn.functional: activation, conv, pool, norm, loss (+ ctc_loss), embedding, pad, rnn."""
