using Broker.Bench.Soak;

namespace Broker.Tests.Bench;

/// <summary>
/// The soak's checker, driven by a table of frame sequences: <c>j:e:n:f</c> is a <c>joined</c>
/// (epoch e, offset n, recovered false/true; an optional fifth part is the join's <c>since</c>),
/// <c>m:e:n</c> a <c>message</c>, <c>J</c> a <c>joined</c> answering a join (with id), <c>s</c> a
/// join sent, <c>x</c> the connection lost.
/// </summary>
public sealed class StreamCheckerTests
{
    [Theory]
    //                                                                      silent dup announced epochs unannounced
    [InlineData("j:a:0:f m:a:1 m:a:2 m:a:3", 0, 0, 0, 0, 0)]                          // in order
    [InlineData("j:a:7:f m:a:8 m:a:9", 0, 0, 0, 0, 0)]                                // first join mid-stream
    [InlineData("j:a:0:f m:a:1 m:a:3", 1, 0, 0, 0, 0)]                                // a hole nobody announced
    [InlineData("j:a:0:f m:a:1 m:a:2 m:a:2", 0, 1, 0, 0, 0)]                          // delivered twice
    [InlineData("j:a:0:f m:a:1 m:a:3 m:a:2", 1, 0, 0, 0, 0)]                          // reordered: a gap, then the late one (see below)
    [InlineData("j:a:0:f m:a:1 j:a:5:f m:a:6", 0, 0, 1, 0, 0)]                        // re-join told it missed 2..5
    [InlineData("j:a:0:f j:a:5:f m:a:7", 1, 0, 1, 0, 0)]                              // after joined the next offset is 6
    [InlineData("j:a:0:f m:a:1 m:a:2 m:a:3 j:a:3:t m:a:4", 0, 0, 0, 0, 0)]            // since-recovery delivered what was missed
    [InlineData("j:a:0:f m:a:1 j:a:4:t", 1, 0, 0, 0, 0)]                              // "recovered" without the missed messages
    [InlineData("j:a:0:f m:a:1 j:a:1:t m:a:1", 0, 1, 0, 0, 0)]                        // recovery replays what it had
    [InlineData("j:a:0:f m:a:1 m:a:2 m:b:1 m:b:2 j:b:2:f m:b:3", 0, 0, 0, 1, 0)]      // §9.1: new epoch from 1, then joined without id
    [InlineData("j:a:0:f m:a:1 m:b:1 m:b:2", 0, 0, 0, 1, 1)]                          // new epoch, never announced
    [InlineData("j:a:0:f m:a:1 m:b:1 x s J:b:1:t:1", 0, 0, 0, 1, 0)]                  // ... its joined lost with the connection: the re-join answers
    [InlineData("j:a:0:f m:a:1 m:b:1 s J:b:1:t:1", 0, 0, 0, 1, 1)]                    // ... but not on a connection that stayed up
    [InlineData("j:a:0:f m:a:1 m:b:3 j:b:3:f", 1, 0, 0, 1, 0)]                        // new epoch's stream must start at 1
    [InlineData("j:a:0:f m:a:1 j:b:4:f m:b:5", 0, 0, 1, 1, 0)]                        // re-join landed in a new epoch
    [InlineData("j:a:0:f m:a:1 j:b:0:f m:b:1", 0, 0, 0, 1, 0)]                        // ... a fresh one
    [InlineData("j:a:0:f m:a:1 j:b:3:t", 1, 0, 0, 1, 0)]                              // "recovered" across an epoch change
    [InlineData("j:a:0:f m:a:1 m:b:1 j:b:1:f m:a:2", 0, 1, 0, 1, 0)]                  // an old epoch comes back
    [InlineData("j:a:0:f m:a:1 j:a:0:f", 0, 1, 0, 0, 0)]                              // joined behind what was delivered
    [InlineData("j:a:0:f m:a:1 x s m:a:5 m:a:6 J:a:6:f:1", 0, 0, 1, 0, 0)]            // §3: partial replay, then its joined recovered:false
    [InlineData("j:a:0:f m:a:1 x s m:a:5 m:a:6 J:a:6:t:1", 1, 0, 0, 0, 0)]            // ... a skip "recovered:true" covers up
    [InlineData("j:a:0:f m:a:1 x s m:a:5 x", 1, 0, 0, 0, 0)]                          // ... and one whose join never got an answer
    [InlineData("j:a:0:f m:a:1 s m:a:3 j:a:3:f J:a:3:t:1", 1, 0, 0, 0, 0)]            // a joined without id does not answer our join
    public void Frame_sequences_get_their_verdicts(string frames, int silent, int duplicates, int announced, int epochChanges, int unannounced)
    {
        var checker = Drive(frames);
        Assert.Equal(silent, checker.SilentGaps);
        Assert.Equal(duplicates, checker.Duplicates);
        Assert.Equal(announced, checker.AnnouncedGaps);
        Assert.Equal(epochChanges, checker.EpochChanges);
        Assert.Equal(unannounced, checker.UnannouncedEpochs);
    }

    [Theory]
    [InlineData("j:a:0:f m:a:1 m:a:2", "a", "1 2 3", 1)]            // did not reach the last ack
    [InlineData("j:a:0:f m:a:1 m:a:2", "b", "1 2 3", 3)]            // stayed joined in the old epoch: missed the whole new one
    [InlineData("j:a:4:f m:a:5 m:a:6", "a", "3 4 5 6", 0)]          // acked before it joined: not its business
    [InlineData("j:a:0:f m:a:1 j:a:5:f m:a:6", "a", "1 2 3 4 5 6", 0)] // told it missed 2..5
    [InlineData("j:a:0:f m:a:1 m:a:3", "a", "1 2 3", 1)]            // a silent hole is missing too
    [InlineData("j:a:0:f m:a:1 m:b:1 j:b:1:f m:b:2", "b", "1 2", 0)] // stayed joined through the epoch change (§9.1)
    [InlineData("j:a:0:f m:a:1 m:a:2 m:a:6", "a", "1 2 3 4 5 6", 3)] // live frames overtook the replay: 3..5 lost
    [InlineData("j:a:0:f m:a:1 m:a:2 m:a:6 j:a:6:f:2", "a", "1 2 3 4 5 6", 0)] // ... then the join (since 2) said recovered:false
    public void Acked_offsets_a_member_neither_received_nor_was_told_about_are_missing(string frames, string epoch, string acked, int missing)
    {
        var checker = Drive(frames);
        Assert.Equal(missing, checker.CountMissing(epoch, acked.Split(' ').Select(long.Parse)));
    }

    [Fact]
    public void A_late_offset_is_reordered_not_a_duplicate_and_counts_as_delivered()
    {
        var checker = Drive("j:a:0:f m:a:1 m:a:3 m:a:2 m:a:3");
        Assert.Equal((1L, 1L, 1L), (checker.SilentGaps, checker.Reordered, checker.Duplicates));
        Assert.Equal(0, checker.CountMissing("a", [1, 2, 3]));
    }

    [Fact]
    public void The_cursor_is_the_since_of_a_rejoin()
    {
        var checker = Drive("j:a:3:f m:a:4 m:a:5");
        Assert.Equal(("a", 5L), (checker.Epoch, checker.Cursor));
    }

    private static StreamChecker Drive(string frames)
    {
        var checker = new StreamChecker();
        foreach (var frame in frames.Split(' '))
        {
            var parts = frame.Split(':');
            switch (parts[0])
            {
                case "m": checker.OnMessage(parts[1], long.Parse(parts[2])); break;
                case "s": checker.OnJoinSent(); break;
                case "x": checker.OnDisconnected(); break;
                default:
                    checker.OnJoined(parts[1], long.Parse(parts[2]), parts[3] == "t", parts.Length > 4 ? long.Parse(parts[4]) : null, answersJoin: parts[0] == "J");
                    break;
            }
        }
        return checker;
    }
}
