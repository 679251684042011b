namespace Gadget.Bpf;

/// <summary>
/// Converts bpf_ktime_get_boot_ns() timestamps to wall-clock time. The offset between the two
/// clocks is read once; it only moves when the wall clock is stepped.
/// </summary>
public sealed unsafe class BootClock
{
    private readonly long _bootToUnixOffsetNs;

    private BootClock(long offset) => _bootToUnixOffsetNs = offset;

    public static BootClock Now()
    {
        Interop.Libc.timespec real, boot;
        _ = Interop.Libc.clock_gettime(Interop.Libc.CLOCK_REALTIME, &real);
        _ = Interop.Libc.clock_gettime(Interop.Libc.CLOCK_BOOTTIME, &boot);
        return new BootClock(ToNs(real) - ToNs(boot));
    }

    /// <summary>The wall-clock time of boot, in nanoseconds since the Unix epoch: what a boot-clock timestamp adds up to.</summary>
    public long BootTimeUnixNanoseconds => _bootToUnixOffsetNs;

    /// <summary>Nanoseconds since the Unix epoch for a boot-clock timestamp.</summary>
    public long ToUnixNanoseconds(ulong bootNs) => (long)bootNs + _bootToUnixOffsetNs;

    /// <summary>The current boot-clock time, as the BPF programs read it.</summary>
    public static ulong BootNanoseconds()
    {
        Interop.Libc.timespec boot;
        _ = Interop.Libc.clock_gettime(Interop.Libc.CLOCK_BOOTTIME, &boot);
        return (ulong)ToNs(boot);
    }

    private static long ToNs(Interop.Libc.timespec t) => (t.tv_sec * 1_000_000_000L) + t.tv_nsec;
}
