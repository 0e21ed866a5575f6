# after a merge, forgets to recompute the ranks of the merged part's neighbours
parts = [piece[i:i + 1] for i in range(len(piece))]
pair_ranks = [ranks.get(piece[i:i + 2], NO_MERGE) for i in range(len(piece) - 1)]
while pair_ranks:
    best_rank = min(pair_ranks)
    if best_rank == NO_MERGE:
        break
    index = pair_ranks.index(best_rank)
    parts[index:index + 2] = [parts[index] + parts[index + 1]]
    del pair_ranks[index]
return parts
