# the first token, which has seen nothing of the text after it
return hidden[:, 0]
