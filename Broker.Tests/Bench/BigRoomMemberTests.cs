using System.Text;
using Broker.Bench.Load;

namespace Broker.Tests.Bench;

/// <summary>
/// The big-room scenario's member, driven by a table of frames: <c>J:count:a,b</c> is its own
/// <c>joined</c> (a count or <c>-</c> for none, then the member list or nothing for none),
/// <c>j</c> a <c>joined</c> without id, <c>o:n</c> an <c>occupancy</c>, <c>+u</c> / <c>-u</c> a
/// <c>presence</c> join / leave of user u, <c>m:s</c> broadcast message #s, <c>e</c> an error.
/// </summary>
public sealed class BigRoomMemberTests
{
    [Theory]
    //                                                                 count frames failures
    [InlineData("J:3", 3, 0, 0)]                                         // counts mode: count, no list
    [InlineData("J:3 o:7 o:9", 9, 2, 0)]                                 // occupancy sets the count and is a frame to the member
    [InlineData("J:-:a,b +c +d -a", 3, 3, 0)]                            // a broker without count: the list and presence
    [InlineData("J:2:a,b +b +c", 3, 2, 0)]                               // a held-back presence for a listed user counts once
    [InlineData("J:2:a,b -z", 2, 1, 0)]                                  // a leave of someone not listed changes nothing
    [InlineData("J:2:a,b o:50 +c", 51, 2, 0)]                            // presence after an occupancy moves on from it
    [InlineData("J:1 +x", 2, 1, 0)]                                      // presence without a list: arithmetic
    [InlineData("J:1 J:1", 1, 0, 1)]                                     // a second joined fails
    [InlineData("J:1 j", 1, 1, 1)]                                       // a joined without id (history lost) fails
    [InlineData("J:1 e", 1, 1, 1)]                                       // an error frame fails
    public void Frames_give_the_member_its_count_and_frame_total(string frames, int count, int framesToMember, int failures)
    {
        var (member, failed) = Drive(frames);
        Assert.Equal(count, member.Count);
        Assert.Equal(framesToMember, member.Frames);
        Assert.Equal(failures, failed.Count);
    }

    [Theory]
    [InlineData("J:1 m:1 m:2 m:3", 4, 0)]                                // in order
    [InlineData("J:1 m:1 m:3", 4, 1)]                                    // a loss
    [InlineData("J:1 m:1 m:2 m:2 m:3", 4, 1)]                            // a duplicate
    [InlineData("J:1 m:2 m:1", 2, 2)]                                    // reordered: a gap, then a step back
    public void Every_broadcast_message_is_checked_in_order(string frames, long next, int failures)
    {
        var (member, failed) = Drive(frames);
        Assert.Equal(next, member.Next);
        Assert.Equal(failures, failed.Count);
    }

    [Fact]
    public void Its_own_joined_is_kept_apart_from_the_frames_to_the_member()
    {
        var joins = 0;
        var member = new BigRoomMember(7, "big", failure => Assert.Fail(failure)) { Joined = _ => joins++ };
        var joined = Joined(count: 2, members: ["a", "b"]);
        member.OnRecord(joined);
        var occupancy = Occupancy(3);
        member.OnRecord(occupancy);

        Assert.Equal(1, joins);
        Assert.NotEqual(0, member.JoinedAt);
        Assert.Equal((joined.Length, (int?)2, (int?)2), (member.JoinedBytes, member.JoinedCount, member.JoinedMembers));
        Assert.Equal((1L, (long)occupancy.Length, 1L), (member.Frames, member.Bytes, member.OccupancyFrames));
    }

    [Fact]
    public void A_delivery_reports_its_intended_send_time()
    {
        var stamps = new List<long>();
        var member = new BigRoomMember(0, "big", failure => Assert.Fail(failure)) { Delivered = (intended, _) => stamps.Add(intended) };
        member.OnRecord(Joined(count: 1, members: null));
        member.OnRecord(Message(1, stamp: 1234));
        member.OnRecord(Message(2, stamp: 5678));
        Assert.Equal([1234L, 5678L], stamps);
    }

    private static (BigRoomMember Member, List<string> Failures) Drive(string frames)
    {
        var failures = new List<string>();
        var member = new BigRoomMember(1, "big", failures.Add);
        foreach (var frame in frames.Split(' '))
        {
            var parts = frame.Split(':');
            member.OnRecord(parts[0] switch
            {
                "J" => Joined(parts[1] == "-" ? null : int.Parse(parts[1]), parts.Length > 2 ? parts[2].Split(',') : null),
                "j" => Encoding.UTF8.GetBytes("""{"type":"joined","data":{"room":"big","epoch":"e","offset":0,"recovered":false,"count":1}}"""),
                "o" => Occupancy(int.Parse(parts[1])),
                "m" => Message(long.Parse(parts[1]), stamp: 1),
                "e" => Encoding.UTF8.GetBytes("""{"type":"error","data":{"code":"rate_limited","message":"slow down"}}"""),
                _ when parts[0][0] is '+' or '-' => Encoding.UTF8.GetBytes(
                    $$$"""{"type":"presence","data":{"room":"big","event":"{{{(parts[0][0] == '+' ? "join" : "leave")}}}","user":"{{{parts[0][1..]}}}"}}"""),
                _ => throw new ArgumentException(frame),
            });
        }
        return (member, failures);
    }

    private static byte[] Joined(int? count, string[]? members)
    {
        var list = members is null ? "" : $",\"members\":[{string.Join(',', members.Select(m => $"\"{m}\""))}]";
        var countField = count is null ? "" : $",\"count\":{count}";
        return Encoding.UTF8.GetBytes($$$"""{"type":"joined","id":"j","data":{"room":"big","epoch":"e","offset":0{{{list}}},"recovered":false{{{countField}}}}}""");
    }

    private static byte[] Occupancy(int count) => Encoding.UTF8.GetBytes($$$"""{"type":"occupancy","data":{"room":"big","count":{{{count}}}}}""");

    private static byte[] Message(long sequence, long stamp)
    {
        var payload = new byte[Payload.MaxLength(4)];
        var length = Payload.Write(payload, 0, sequence, stamp, 4);
        return Encoding.UTF8.GetBytes($$"""{"type":"message","data":{"room":"big","offset":{{sequence}},"epoch":"e","from":"publisher","payload":""")
            .Concat(payload.AsSpan(0, length).ToArray()).Concat("}}"u8.ToArray()).ToArray();
    }
}
