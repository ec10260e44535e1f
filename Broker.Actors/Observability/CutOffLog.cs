using Broker.Contracts.Protocol;
using static Broker.Contracts.Cluster.NodeReportEvents;

namespace Broker.Actors.Observability;

/// <summary>
/// The closes this node chose (every close but a normal 1000: heartbeat and auth deadlines,
/// expired tokens, limits, slow consumers, operator disconnects, drains): how many of each code
/// and reason since start, and the last <see cref="Capacity"/> of them in a ring, so the memory
/// it takes is fixed whatever the churn.
/// </summary>
public sealed class CutOffLog(int capacity)
{
    private readonly CutOff?[] _ring = new CutOff?[Math.Max(1, capacity)];
    private readonly Dictionary<(int Code, string Reason), long> _counts = new();
    private int _next;
    private long _total;

    /// <summary>How many recent cut-offs it keeps.</summary>
    public int Capacity => _ring.Length;

    /// <summary>Cut-offs since start.</summary>
    public long Total => _total;

    /// <summary>Whether a close is one the broker chose (not the client's or the stream's normal end).</summary>
    public static bool IsCutOff(Close close) => close.Code != CloseCodes.Normal;

    /// <summary>Records a cut-off (a caller checks <see cref="IsCutOff"/> first).</summary>
    public void Add(CutOff cutOff)
    {
        _ring[_next] = cutOff;
        _next = (_next + 1) % _ring.Length;
        _total++;
        var key = (cutOff.Code, cutOff.Reason);
        _counts[key] = _counts.GetValueOrDefault(key) + 1;
    }

    /// <summary>The kept cut-offs, newest first.</summary>
    public CutOff[] Recent()
    {
        var kept = (int)Math.Min(_total, _ring.Length);
        var recent = new CutOff[kept];
        for (var i = 0; i < kept; i++) recent[i] = _ring[(_next - 1 - i + _ring.Length) % _ring.Length]!;
        return recent;
    }

    /// <summary>Counts by code and reason, most first.</summary>
    public CutOffCount[] Counts() => _counts
        .Select(c => new CutOffCount(c.Key.Code, c.Key.Reason, c.Value))
        .OrderByDescending(c => c.Count).ThenBy(c => c.Code).ThenBy(c => c.Reason, StringComparer.Ordinal)
        .ToArray();
}
