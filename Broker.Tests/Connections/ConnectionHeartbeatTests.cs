using Broker.Actors.Connections;

namespace Broker.Tests.Connections;

/// <summary>The heartbeat rule (PROTOCOL §5) as plain state, driven tick by tick over many periods.</summary>
public sealed class ConnectionHeartbeatTests
{
    private static readonly long Interval = TimeSpan.FromSeconds(1).Ticks;

    private static ConnectionHeartbeat Armed()
    {
        var heartbeat = new ConnectionHeartbeat();
        heartbeat.Arm();
        return heartbeat;
    }

    [Fact]
    public void A_connection_is_not_pinged_before_it_is_armed()
    {
        var heartbeat = new ConnectionHeartbeat();

        for (var tick = 1; tick <= 5; tick++) Assert.Equal(HeartbeatVerdict.None, heartbeat.Tick(tick * Interval, Interval));

        heartbeat.Arm();
        Assert.Equal(HeartbeatVerdict.Ping, heartbeat.Tick(6 * Interval, Interval));
    }

    [Fact]
    public void A_client_that_answers_every_ping_is_pinged_every_tick_for_a_thousand_periods()
    {
        var heartbeat = Armed();

        for (var tick = 1; tick <= 1000; tick++)
        {
            Assert.Equal(HeartbeatVerdict.Ping, heartbeat.Tick(tick * Interval, Interval));
            heartbeat.SignOfLife();
        }
    }

    [Fact]
    public void A_client_that_stops_answering_is_found_silent_at_the_next_tick_and_never_again()
    {
        var heartbeat = Armed();
        for (var tick = 1; tick <= 50; tick++)
        {
            Assert.Equal(HeartbeatVerdict.Ping, heartbeat.Tick(tick * Interval, Interval));
            heartbeat.SignOfLife();
        }

        Assert.Equal(HeartbeatVerdict.Ping, heartbeat.Tick(51 * Interval, Interval)); // no answer to this one
        Assert.Equal(HeartbeatVerdict.Silent, heartbeat.Tick(52 * Interval, Interval));
        Assert.False(heartbeat.IsArmed);
        for (var tick = 53; tick <= 60; tick++) Assert.Equal(HeartbeatVerdict.None, heartbeat.Tick(tick * Interval, Interval));
    }

    [Fact]
    public void A_tick_queued_right_behind_the_one_that_pinged_is_no_new_interval()
    {
        var heartbeat = Armed();

        Assert.Equal(HeartbeatVerdict.Ping, heartbeat.Tick(Interval, Interval));
        Assert.Equal(HeartbeatVerdict.None, heartbeat.Tick(Interval + Interval / 2 - 1, Interval));
        Assert.Equal(HeartbeatVerdict.Silent, heartbeat.Tick(Interval + Interval / 2, Interval));
    }

    [Fact]
    public void A_clock_that_went_backwards_does_not_save_a_silent_client()
    {
        var heartbeat = Armed();

        Assert.Equal(HeartbeatVerdict.Ping, heartbeat.Tick(10 * Interval, Interval));
        Assert.Equal(HeartbeatVerdict.Silent, heartbeat.Tick(5 * Interval, Interval));
    }

    [Fact]
    public void While_the_inbound_ack_is_held_silence_is_not_held_against_the_client_and_it_is_still_pinged()
    {
        var heartbeat = Armed();
        Assert.Equal(HeartbeatVerdict.Ping, heartbeat.Tick(Interval, Interval));

        heartbeat.Hold(true);
        for (var tick = 2; tick <= 100; tick++) Assert.Equal(HeartbeatVerdict.Ping, heartbeat.Tick(tick * Interval, Interval));

        // Released and still silent: the next tick pings once more (the client's frames were waiting
        // on us until now), the one after judges it.
        heartbeat.Hold(false);
        Assert.Equal(HeartbeatVerdict.Silent, heartbeat.Tick(101 * Interval, Interval));
    }

    [Fact]
    public void An_ended_connection_is_never_pinged_again()
    {
        var heartbeat = Armed();
        Assert.Equal(HeartbeatVerdict.Ping, heartbeat.Tick(Interval, Interval));

        heartbeat.End();

        heartbeat.SignOfLife();
        for (var tick = 2; tick <= 10; tick++) Assert.Equal(HeartbeatVerdict.None, heartbeat.Tick(tick * Interval, Interval));
    }

    [Fact]
    public async Task Signs_of_life_from_another_thread_while_ticking_never_turn_an_answering_client_silent()
    {
        // One ticking thread, one reporting thread, as on a node: a client that answers every ping
        // before the next tick is never found silent.
        var heartbeat = Armed();
        var pinged = new SemaphoreSlim(0);
        var answered = new SemaphoreSlim(0);
        var reporter = Task.Run(async () =>
        {
            for (var i = 0; i < 2000; i++)
            {
                await pinged.WaitAsync(TimeSpan.FromSeconds(5));
                heartbeat.SignOfLife();
                answered.Release();
            }
        });

        for (var tick = 1; tick <= 2000; tick++)
        {
            Assert.Equal(HeartbeatVerdict.Ping, heartbeat.Tick(tick * Interval, Interval));
            pinged.Release();
            Assert.True(await answered.WaitAsync(TimeSpan.FromSeconds(5)));
        }
        await reporter.WaitAsync(TimeSpan.FromSeconds(5));
    }
}
