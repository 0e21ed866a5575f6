# marks a node visited when it is pushed and lists it when popped: a preorder, which can put
# a node before one of its consumers
order, visited, stack = [], {root}, [root]
while stack:
    node = stack.pop()
    order.append(node)
    for tensor in node.inputs:
        parent = getattr(tensor, "_node", None)
        if parent is not None and parent not in visited:
            if parent.freed:
                _raise_freed()
            visited.add(parent)
            stack.append(parent)
return order
