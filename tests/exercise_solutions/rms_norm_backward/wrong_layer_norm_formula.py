# Layer norm's formula: subtracts mean(gh), a term RMSNorm does not have (no centring).
gh = grad if weight is None else grad * weight
mean_gh = gh.mean(axis=1, keepdims=True)
mean_gh_xhat = (gh * xhat).mean(axis=1, keepdims=True)
return rstd[:, None] * (gh - mean_gh - xhat * mean_gh_xhat)
