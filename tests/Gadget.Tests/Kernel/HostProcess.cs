using System.Diagnostics;

namespace Gadget.Tests.Kernel;

/// <summary>Real processes for the kernel tests to observe.</summary>
internal static class HostProcess
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(5);

    /// <summary>A marker no other process on the host will carry in its arguments.</summary>
    public static string NewMarker() => $"gadget-test-{Guid.NewGuid():N}";

    /// <summary>Starts <paramref name="path"/> (a child of this process) with its standard streams redirected.</summary>
    public static Process Start(string path, params string[] arguments)
    {
        var start = new ProcessStartInfo(path)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start) ?? throw new InvalidOperationException($"Could not start {path}.");
    }

    /// <summary>Runs <paramref name="path"/> to its end and returns its pid.</summary>
    public static int Run(string path, params string[] arguments)
    {
        using Process process = Start(path, arguments);
        WaitForExit(process);
        return process.Id;
    }

    public static void WaitForExit(Process process)
    {
        if (!process.WaitForExit(ExitTimeout))
        {
            process.Kill();
            throw new TimeoutException($"{process.StartInfo.FileName} did not exit within {ExitTimeout.TotalSeconds} s.");
        }
    }
}
