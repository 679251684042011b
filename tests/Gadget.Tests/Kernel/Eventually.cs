using System.Diagnostics;

namespace Gadget.Tests.Kernel;

/// <summary>Bounded waits for what the kernel or another process does on its own time.</summary>
internal static class Eventually
{
    /// <summary>True once <paramref name="condition"/> holds; false if it still does not after <paramref name="timeout"/>.</summary>
    public static bool True(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                return false;
            }

            Thread.Sleep(50);
        }

        return true;
    }
}
