# the last position of every row, padding or not
return hidden[:, -1]
