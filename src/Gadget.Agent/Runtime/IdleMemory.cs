namespace Gadget.Agent.Runtime;

/// <summary>
/// Gives memory back once no trace has run for a while. A burst (an overload, a client that fell
/// behind) grows the heap, and the runtime keeps what it grew while nothing allocates; an agent
/// that sits idle on every node should not hold that. One aggressive, compacting collection after
/// <see cref="QuietPeriod"/> without traces returns it to the system; traces that follow each
/// other closely do not pay for it.
/// </summary>
internal static class IdleMemory
{
    private static readonly TimeSpan QuietPeriod = TimeSpan.FromSeconds(2);
    private static int s_activeTraces;
    private static long s_endings;

    public static void TraceStarted() => Interlocked.Increment(ref s_activeTraces);

    public static void TraceEnded()
    {
        long ending = Interlocked.Increment(ref s_endings);
        if (Interlocked.Decrement(ref s_activeTraces) == 0)
        {
            _ = Task.Delay(QuietPeriod).ContinueWith(_ => TrimIfStillIdle(ending), TaskScheduler.Default);
        }
    }

    private static void TrimIfStillIdle(long ending)
    {
        // Another trace started or ended since: it will schedule its own check.
        if (Volatile.Read(ref s_activeTraces) == 0 && Interlocked.Read(ref s_endings) == ending)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }
    }
}
