using System.Collections.Concurrent;
using Akka.Actor;

namespace Broker.Actors.Rooms;

/// <summary>
/// The byte budget shared by the history of every room on one node (<c>Broker:Rooms:HistoryNodeMaxBytes</c>).
/// One per actor system; rooms are its only writers, each through its own <see cref="HistoryAccount"/>.
/// Counters are lock-free (<see cref="Interlocked"/>): a room's append or trim costs one atomic add.
/// </summary>
/// <remarks>
/// Entries carry a node-wide sequence number, so "oldest on the node" is comparable across rooms.
/// A room only ever trims its own history; a room that finds the node's oldest entries elsewhere
/// tells their room (<see cref="TrimHistory"/>), whose actor trims them (see <see cref="RoomState.TrimToNodeBudget"/>).
/// </remarks>
public sealed class HistoryBudget
{
    /// <summary>The share of the memory available to the process that history may use when no budget is configured.</summary>
    public const int DefaultMemoryFraction = 8;

    private readonly ConcurrentDictionary<HistoryAccount, byte> _accounts = new();
    private long _bytes;
    private long _sequence;

    /// <param name="limitBytes">The node's budget; 0 or less means <see cref="DefaultLimit"/>.</param>
    public HistoryBudget(long limitBytes)
    {
        LimitBytes = limitBytes > 0 ? limitBytes : DefaultLimit();
    }

    /// <summary>The most history bytes the node keeps (plus at most one in-flight message per room).</summary>
    public long LimitBytes { get; }

    /// <summary>Frame bytes held in the history of every room on the node now.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>How far the node is over its budget now; 0 or less when within it.</summary>
    public long Excess => Bytes - LimitBytes;

    /// <summary>1/<see cref="DefaultMemoryFraction"/> of the memory available to the process (the container's limit, if any).</summary>
    public static long DefaultLimit()
    {
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        // No reading (no GC yet on some platforms): the machine's memory as the runtime reports it.
        if (available <= 0) available = Environment.Is64BitProcess ? 8L << 30 : 1L << 30;
        return Math.Max(1, available / DefaultMemoryFraction);
    }

    /// <summary>A room's account; <paramref name="owner"/> is the actor told to trim when the node's oldest entries are its.</summary>
    public HistoryAccount Open(IActorRef owner)
    {
        var account = new HistoryAccount(this, owner);
        _accounts.TryAdd(account, 0);
        return account;
    }

    internal long NextSequence() => Interlocked.Increment(ref _sequence);

    internal void Add(long bytes) => Interlocked.Add(ref _bytes, bytes);

    internal void Close(HistoryAccount account) => _accounts.TryRemove(account, out _);

    /// <summary>The account, other than <paramref name="self"/>, holding the node's oldest entry, and that entry's sequence.</summary>
    internal (HistoryAccount? Holder, long OldestSequence) OldestOtherThan(HistoryAccount self)
    {
        HistoryAccount? holder = null;
        var oldest = long.MaxValue;
        // Only when the node is over budget: one pass over the node's rooms, no allocation beyond the enumerator.
        foreach (var (account, _) in _accounts)
        {
            if (ReferenceEquals(account, self)) continue;
            var sequence = account.OldestSequence;
            if (sequence < oldest)
            {
                oldest = sequence;
                holder = account;
            }
        }
        return (holder, oldest);
    }
}

/// <summary>
/// One room's share of the node's <see cref="HistoryBudget"/>: its bytes go into the node's total,
/// and the sequence of its oldest entry is visible to the other rooms. Written only by its room.
/// </summary>
public sealed class HistoryAccount
{
    private readonly HistoryBudget _budget;
    private long _oldestSequence = long.MaxValue;
    private long _bytes;
    private int _closed;

    internal HistoryAccount(HistoryBudget budget, IActorRef owner)
    {
        _budget = budget;
        Owner = owner;
    }

    public HistoryBudget Budget => _budget;

    /// <summary>The room actor that trims this history.</summary>
    public IActorRef Owner { get; }

    /// <summary>Bytes this room holds.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>The node-wide sequence of this room's oldest entry; <see cref="long.MaxValue"/> when it holds none.</summary>
    public long OldestSequence => Interlocked.Read(ref _oldestSequence);

    internal void Added(long bytes)
    {
        if (Volatile.Read(ref _closed) != 0) return;
        Interlocked.Add(ref _bytes, bytes);
        _budget.Add(bytes);
    }

    internal void Removed(long bytes)
    {
        if (Volatile.Read(ref _closed) != 0) return;
        Interlocked.Add(ref _bytes, -bytes);
        _budget.Add(-bytes);
    }

    internal void SetOldest(long sequence) => Interlocked.Exchange(ref _oldestSequence, sequence);

    /// <summary>Gives every byte back to the node and leaves it (a stopped room). Idempotent.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        _budget.Close(this);
        _budget.Add(-Interlocked.Exchange(ref _bytes, 0));
        Interlocked.Exchange(ref _oldestSequence, long.MaxValue);
    }
}

/// <summary>
/// Tells a room that the node is over its history budget and the node's oldest entries are its:
/// it trims oldest-first while the node is still over, then passes this on to the room holding
/// the next-oldest entries if needed. Local to the node (the budget is per node); does not keep
/// an idle room alive.
/// </summary>
public sealed record TrimHistory(int Hops) : INotInfluenceReceiveTimeout
{
    /// <summary>How many rooms one trim request may pass through; bounds the work when rooms race.</summary>
    public const int MaxHops = 16;
}
