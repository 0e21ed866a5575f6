# breadth first from the root: a node reached by a short path comes before a longer path's
# consumers of it
from collections import deque

order, visited, queue = [], {root}, deque([root])
while queue:
    node = queue.popleft()
    order.append(node)
    for tensor in node.inputs:
        parent = getattr(tensor, "_node", None)
        if parent is not None and parent not in visited:
            if parent.freed:
                _raise_freed()
            visited.add(parent)
            queue.append(parent)
return order
