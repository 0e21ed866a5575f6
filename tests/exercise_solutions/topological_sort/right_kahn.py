# Kahn's algorithm: count each node's consumers, then release a node when all are done
def parents(node):
    found = []
    for tensor in node.inputs:
        parent = getattr(tensor, "_node", None)
        if parent is not None:
            if parent.freed:
                _raise_freed()
            found.append(parent)
    return found

consumers = {root: 0}
stack = [root]
while stack:
    node = stack.pop()
    for parent in parents(node):
        if parent not in consumers:
            consumers[parent] = 0
            stack.append(parent)
        consumers[parent] += 1
order, ready = [], [root]
while ready:
    node = ready.pop()
    order.append(node)
    for parent in parents(node):
        consumers[parent] -= 1
        if consumers[parent] == 0:
            ready.append(parent)
return order
