# merges the first pair that is a token, whatever its rank
parts = [piece[i:i + 1] for i in range(len(piece))]
merged = True
while merged:
    merged = False
    for i in range(len(parts) - 1):
        if parts[i] + parts[i + 1] in ranks:
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
            merged = True
            break
return parts
