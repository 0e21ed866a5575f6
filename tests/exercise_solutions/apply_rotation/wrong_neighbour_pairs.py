# Meta's original layout (dims 2i and 2i + 1 form a pair), not Hugging Face's rotate-half.
out = x * cos
out[..., 0::2] -= x[..., 1::2] * sin[..., 0::2]
out[..., 1::2] += x[..., 0::2] * sin[..., 1::2]
return out
