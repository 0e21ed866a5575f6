# keeps every draft: the draft's distribution, not the large model's
return True, int(token)
