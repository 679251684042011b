using System.Management.Automation;
using System.Text;

namespace Gadget.Commands;

/// <summary>
/// Refuses a -Comm no process can have: the kernel keeps 15 bytes of a process's name
/// (TASK_COMM_LEN 16, with its terminating zero), so a longer name would never match as given.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ValidateCommAttribute : ValidateArgumentsAttribute
{
    public const int MaxBytes = 15;

    protected override void Validate(object arguments, EngineIntrinsics engineIntrinsics)
    {
        string? comm = (arguments is PSObject wrapped ? wrapped.BaseObject : arguments) as string;
        int bytes = comm is null ? 0 : Encoding.UTF8.GetByteCount(comm);
        if (bytes > MaxBytes)
        {
            throw new ValidationMetadataException(
                $"-Comm '{comm}' is {bytes} bytes, but the kernel keeps only the first {MaxBytes} bytes of a process's name. Give at most {MaxBytes} bytes: '{KernelName(comm!)}'.");
        }
    }

    /// <summary>The name as the kernel keeps it: whole characters, at most <see cref="MaxBytes"/> bytes.</summary>
    internal static string KernelName(string comm)
    {
        int bytes = 0;
        var kept = new StringBuilder();
        foreach (Rune rune in comm.EnumerateRunes())
        {
            bytes += rune.Utf8SequenceLength;
            if (bytes > MaxBytes)
            {
                break;
            }

            kept.Append(rune.ToString());
        }

        return kept.ToString();
    }
}
