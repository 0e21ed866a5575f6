# multiplies column j by scale[j]
return q.astype(dtype) * scale.astype(dtype)[None, :]
