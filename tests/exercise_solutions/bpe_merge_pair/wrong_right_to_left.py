# merges from the right: [a, a, a] becomes [a, X] instead of [X, a]
merged, i = [], len(ids) - 1
while i >= 0:
    if i > 0 and ids[i - 1] == pair[0] and ids[i] == pair[1]:
        merged.append(new_id)
        i -= 2
    else:
        merged.append(ids[i])
        i -= 1
return merged[::-1]
