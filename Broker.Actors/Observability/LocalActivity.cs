using static Broker.Contracts.Cluster.NodeReportEvents;

namespace Broker.Actors.Observability;

/// <summary>
/// Who is connected to this node and which rooms they are in, as the access events tell it: the
/// user behind each connection (for the cut-off list, whose close event names only the connection)
/// and each room's local connection count, kept up to date one event at a time so that the
/// busiest rooms are read from the counts, never by walking the members.
/// </summary>
public sealed class LocalActivity
{
    private readonly Dictionary<string, Entry> _connections = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _rooms = new(StringComparer.Ordinal);

    /// <summary>Rooms with at least one connection of this node.</summary>
    public int RoomsWithMembers => _rooms.Count;

    /// <summary>Connections this tracks (opened and not closed).</summary>
    public int Connections => _connections.Count;

    /// <summary>A socket was accepted; <paramref name="user"/> is known already when a ticket authenticated it.</summary>
    public void Connected(string connectionId, string? user) => _connections[connectionId] = new Entry { User = user };

    /// <summary>The connection authenticated as <paramref name="user"/>.</summary>
    public void Authenticated(string connectionId, string user) => EntryOf(connectionId).User = user;

    /// <summary>The connection is in <paramref name="room"/> (a second join of the same room changes nothing).</summary>
    public void Joined(string connectionId, string room)
    {
        var entry = EntryOf(connectionId);
        if (entry.Rooms.Contains(room)) return;
        entry.Rooms.Add(room);
        _rooms[room] = _rooms.GetValueOrDefault(room) + 1;
    }

    /// <summary>The connection is no longer in <paramref name="room"/>.</summary>
    public void Left(string connectionId, string room)
    {
        if (_connections.TryGetValue(connectionId, out var entry) && entry.Rooms.Remove(room)) Decrement(room);
    }

    /// <summary>The connection is gone: out of its rooms; returns its user (null if it never authenticated).</summary>
    public string? Closed(string connectionId)
    {
        if (!_connections.Remove(connectionId, out var entry)) return null;
        foreach (var room in entry.Rooms) Decrement(room);
        return entry.User;
    }

    /// <summary>The <paramref name="count"/> rooms with the most connections here, most first (ties by name).</summary>
    public RoomConnections[] Busiest(int count)
    {
        if (count <= 0 || _rooms.Count == 0) return [];
        // A bounded min-heap over the counts: O(rooms · log count), no sort of every room.
        var top = new PriorityQueue<string, (int Connections, string Room)>(count + 1, Order.Instance);
        foreach (var (room, connections) in _rooms)
        {
            top.Enqueue(room, (connections, room));
            if (top.Count > count) top.Dequeue();
        }
        var busiest = new RoomConnections[top.Count];
        for (var i = busiest.Length - 1; i >= 0; i--)
        {
            top.TryDequeue(out var room, out var key);
            busiest[i] = new RoomConnections(room!, key.Connections);
        }
        return busiest;
    }

    private Entry EntryOf(string connectionId)
    {
        // An event of a connection opened before this started listening (or whose open was missed).
        if (!_connections.TryGetValue(connectionId, out var entry)) _connections[connectionId] = entry = new Entry();
        return entry;
    }

    private void Decrement(string room)
    {
        var left = _rooms[room] - 1;
        if (left == 0) _rooms.Remove(room);
        else _rooms[room] = left;
    }

    private sealed class Entry
    {
        public string? User { get; set; }
        // Most connections are in a room or two: a list is smaller than a set and as fast at that size.
        public List<string> Rooms { get; } = new(1);
    }

    /// <summary>The heap's order: fewest connections first, and of equal counts the name that sorts last, so the kept ones read in name order.</summary>
    private sealed class Order : IComparer<(int Connections, string Room)>
    {
        public static readonly Order Instance = new();

        public int Compare((int Connections, string Room) x, (int Connections, string Room) y) =>
            x.Connections != y.Connections ? x.Connections.CompareTo(y.Connections) : string.CompareOrdinal(y.Room, x.Room);
    }
}
