using Gadget.Agent.Gadgets;
using Gadget.Bpf;
using Xunit;

namespace Gadget.Tests.Bpf;

/// <summary>libbpf failures become exceptions whose id is stable and whose message says what to do.</summary>
public sealed class BpfExceptionTests
{
    private const int EPERM = 1;
    private const int ENOENT = 2;
    private const int EACCES = 13;
    private const int EINVAL = 22;
    private const int ENOTSUP = 95;

    [Theory]
    [InlineData(BpfErrorId.LoadFailed, -EPERM)]
    [InlineData(BpfErrorId.LoadFailed, EACCES)]
    [InlineData(BpfErrorId.AttachFailed, -EPERM)]
    [InlineData(BpfErrorId.MapFailed, -EACCES)]
    public void PermissionFailureOfAnUnprivilegedCallerSaysHowToGetThePrivilege(string errorId, int errno)
    {
        BpfException exception = BpfException.FromErrno(errorId, errno, "load exec", libbpfLog: null, privileged: false);

        Assert.Equal(BpfErrorId.PermissionDenied, exception.ErrorId);
        Assert.Equal(Math.Abs(errno), exception.Errno);
        Assert.StartsWith("Could not load exec: permission denied", exception.Message, StringComparison.Ordinal);
        Assert.Contains("root", exception.Message, StringComparison.Ordinal);
        Assert.Contains("CAP_BPF", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void VerifierRefusalOfRootKeepsTheLoadIdAndPointsAtTheLog()
    {
        BpfException exception = BpfException.FromErrno(BpfErrorId.LoadFailed, -EACCES, "load exec", "R1 invalid mem access 'scalar'\n", privileged: true);

        Assert.Equal(BpfErrorId.LoadFailed, exception.ErrorId);
        Assert.Contains("verifier", exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("CAP_BPF", exception.Message, StringComparison.Ordinal);
        Assert.EndsWith(Environment.NewLine + "libbpf: R1 invalid mem access 'scalar'", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(BpfErrorId.AttachFailed)]
    [InlineData(BpfErrorId.MapFailed)]
    public void PermissionFailureOfRootNamesWhatElseRefusesIt(string errorId)
    {
        BpfException exception = BpfException.FromErrno(errorId, -EPERM, "attach program 'gadget_fentry'", libbpfLog: null, privileged: true);

        Assert.Equal(errorId, exception.ErrorId);
        Assert.Contains("although running as root", exception.Message, StringComparison.Ordinal);
        Assert.Contains("lockdown", exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("run as root (sudo)", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-ENOENT, "not found")]
    [InlineData(ENOTSUP, "not supported by this kernel")]
    [InlineData(-EINVAL, "invalid argument")]
    [InlineData(-7, "too large for this kernel")]
    [InlineData(-4095, "errno 4095")]
    public void OtherErrnosNameTheirCause(int errno, string cause)
    {
        BpfException exception = BpfException.FromErrno(BpfErrorId.AttachFailed, errno, "attach program 'gadget_exec'", libbpfLog: null, privileged: false);

        Assert.Equal(BpfErrorId.AttachFailed, exception.ErrorId);
        Assert.Equal(Math.Abs(errno), exception.Errno);
        Assert.StartsWith($"Could not attach program 'gadget_exec': {cause}", exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("libbpf:", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OpeningWithoutKernelBtfSaysWhatIsMissing()
    {
        string missing = $"/nonexistent-{Guid.NewGuid():N}/vmlinux";

        BpfException exception = Assert.Throws<BpfException>(() => BpfObject.Open(
            Gadgets.TestGadgets.Get("exec").Program, "exec", new BpfOpenOptions { KernelBtfPath = missing }));

        Assert.Equal(BpfErrorId.KernelBtfMissing, exception.ErrorId);
        Assert.Equal(ENOENT, exception.Errno);
        Assert.Contains(missing, exception.Message, StringComparison.Ordinal);
        Assert.Contains("CONFIG_DEBUG_INFO_BTF", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OpeningSomethingThatIsNotAnElfObjectFails()
    {
        BpfException exception = Assert.Throws<BpfException>(() => BpfObject.Open("not an ELF object"u8, "garbage"));

        Assert.Equal(BpfErrorId.InvalidObject, exception.ErrorId);
        Assert.StartsWith("Could not open BPF object 'garbage'", exception.Message, StringComparison.Ordinal);
    }
}
