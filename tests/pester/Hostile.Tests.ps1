#Requires -Version 7.6
# Hostile input is normal input: what a traced process, another user of the host or a broken
# configuration can throw at the module, each case a reproduction of how it once broke, and the
# behaviour it has now. Every wait in here is bounded, so a regression fails instead of hanging.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force

    function Get-ThrownError {
        # Runs $ScriptBlock, which must throw, and returns the ErrorRecord.
        param([scriptblock] $ScriptBlock)
        $ScriptBlock | Should -Throw -PassThru
    }

    function Invoke-Bounded {
        # Runs $Command (text) in a runspace of its own with the module loaded, and gives it
        # $Timeout: a regression that hangs fails the test instead of the whole suite. Returns
        # whether it completed, how long the command took, its output and the error it threw.
        param([string] $Command, [timespan] $Timeout = '00:00:40')
        $shell = [powershell]::Create()
        try {
            $null = $shell.AddScript({
                param($Module, $Command)
                Import-Module $Module
                $clock = [Diagnostics.Stopwatch]::StartNew()
                $output = $null
                $thrown = $null
                try { $output = @(& ([scriptblock]::Create($Command))) } catch { $thrown = $_ }
                [pscustomobject]@{ Elapsed = $clock.Elapsed; Output = $output; Error = $thrown }
            }).AddArgument((Join-Path $ModulePath 'Gadget.psd1')).AddArgument($Command)
            $pending = $shell.BeginInvoke()
            $completed = $pending.AsyncWaitHandle.WaitOne($Timeout)
            if (-not $completed) {
                $shell.Stop()
                return [pscustomobject]@{ Completed = $false; Elapsed = $Timeout; Output = @(); Error = $null }
            }
            $result = $shell.EndInvoke($pending)[0]
            [pscustomobject]@{ Completed = $true; Elapsed = $result.Elapsed; Output = @($result.Output); Error = $result.Error }
        }
        finally { $shell.Dispose() }
    }

    $script:PreviousSocket = $env:GADGET_AGENT_SOCKET
    $script:Scratch = New-TestDirectory 'gadget-hostile'
    # A socket path where nothing listens, so no test reaches a real agent by accident.
    $env:GADGET_AGENT_SOCKET = Join-Path $Scratch 'none/agent.sock'
}

AfterAll {
    $env:GADGET_AGENT_SOCKET = $script:PreviousSocket
    Remove-Item $Scratch -Recurse -Force -ErrorAction Ignore
}

Describe 'A file name chosen to make -Path wildcards backtrack' -Skip:$SkipKernel {
    BeforeAll {
        $script:Agent = Start-TestAgent -ModulePath $ModulePath
        $env:GADGET_AGENT_SOCKET = $Agent.Socket
        $script:Baseline = Get-BpfObjectCount -ProcessId $Agent.Process.Id
        # A backtracking matcher tries about 200^5 ways to fit *a*a*a*a*a*c to 200 a's (the regular
        # expression it once was: 29 s for one such path). Another user only has to open it.
        $directory = Join-Path $Scratch 'x'
        New-Item $directory -ItemType Directory | Out-Null
        $script:HostilePath = Join-Path $directory ('a' * 200)
        $script:MatchingPath = Join-Path $directory (('a' * 200) + 'c')
        Set-Content $HostilePath '' ; Set-Content $MatchingPath ''
        $script:Pattern = Join-Path $directory '*a*a*a*a*a*c'
        # Thousands of opens of the hostile name a second, and one of a name that matches between them.
        $loop = 'while :; do i=0; while [ $i -lt 100 ]; do : < "$1"; i=$((i+1)); done; : < "$2"; sleep 0.01; done'
        $start = [Diagnostics.ProcessStartInfo]::new('/bin/sh')
        foreach ($argument in '-c', $loop, 'opener', $HostilePath, $MatchingPath) { $start.ArgumentList.Add($argument) }
        $script:Opener = [Diagnostics.Process]::Start($start)
        $script:Run = Invoke-Bounded "Trace-GadgetOpen -Local -Path '$Pattern' -Duration 2 -Statistics"
        $script:Output = $Run.Output
        $script:DetachedInTime = Wait-Condition {
            $now = Get-BpfObjectCount -ProcessId $Agent.Process.Id
            $now.Programs -eq $Baseline.Programs -and $now.Links -eq $Baseline.Links
        } -Timeout '00:00:01' -IntervalMilliseconds 20
        $script:AfterTrace = Get-BpfObjectCount -ProcessId $Agent.Process.Id
    }

    AfterAll {
        if ($script:Opener -and -not $Opener.HasExited) { $Opener.Kill(); $Opener.WaitForExit() }
        $env:GADGET_AGENT_SOCKET = Join-Path $Scratch 'none/agent.sock'
        Stop-TestAgent $script:Agent
    }

    It 'the opener ran through the whole trace' {
        $Opener.HasExited | Should -BeFalse
    }

    It 'a -Duration 2 trace ends within its duration and the stated 5 s grace' {
        Write-Host ('    Trace-GadgetOpen -Path {0} -Duration 2 took {1:N2} s' -f $Pattern, $Run.Elapsed.TotalSeconds)
        $Run.Completed | Should -BeTrue
        $Run.Error | Should -BeNullOrEmpty
        $Run.Elapsed | Should -BeLessThan ([timespan]::FromSeconds(2 + 5))
    }

    It 'still matches: the names that fit the pattern are reported, the others are not' {
        $events = @($Output | Where-Object { $_ -is [Gadget.OpenEvent] })
        $events.Count | Should -BeGreaterThan 0
        $events.FullPath | Sort-Object -Unique | Should -Be @($MatchingPath)
    }

    It 'the agent drained the trace and sent its final counters' {
        $statistics = @($Output | Where-Object { $_ -is [Gadget.TraceStatistics] })
        $statistics.Count | Should -Be 1
        $statistics[0].Final | Should -BeTrue
        $statistics[0].FilteredAgent | Should -BeGreaterThan 1000 -Because 'the hostile name reached the agent and was matched there, every time'
    }

    It 'leaves no program attached a second after the trace returned' {
        $DetachedInTime | Should -BeTrue -Because "the agent holds $($AfterTrace.Programs) programs and $($AfterTrace.Links) links; before the trace $($Baseline.Programs) and $($Baseline.Links)"
    }
}

Describe 'Argv, process names and file names with terminal escape sequences' -Skip:$SkipKernel {
    BeforeAll {
        $script:Agent = Start-TestAgent -ModulePath $ModulePath
        $env:GADGET_AGENT_SOCKET = $Agent.Socket
        $e = [char]27; $bel = [char]7
        # A window title (OSC 0 … BEL), a clear screen, an erased line, a hyperlink (OSC 8 … ST), a C1 CSI and DEL.
        $script:Sequences = @("$e]0;owned$bel", "$e[2J", "$e[1A$e[2K", "$e]8;;http://evil.test/$e\link$e]8;;$e\", "$([char]0x9b)31m", "x$([char]0x7f)")
        $script:Marker = New-Marker
        $directory = Join-Path $Scratch 'escapes'
        New-Item $directory -ItemType Directory | Out-Null
        # A file whose name holds the sequences, and a program whose name (its comm) and path do.
        $script:HostileFile = Join-Path $directory ("f$e]0;owned$bel$e[2J$e[1A$e[2K" + [char]0x9b + 'x')
        Set-Content -LiteralPath $HostileFile ''
        $script:HostileProgram = Join-Path $directory "t$e[2J$bel"
        $null = New-Item -ItemType SymbolicLink -Path $HostileProgram -Target /bin/true
        $loop = 'f=$1; p=$2; shift 2; while :; do : < "$f"; "$p" "$@"; sleep 0.1; done'
        $start = [Diagnostics.ProcessStartInfo]::new('/bin/sh')
        foreach ($argument in @('-c', $loop, 'escaper', $HostileFile, $HostileProgram, $Marker) + $Sequences) { $start.ArgumentList.Add($argument) }
        $script:Looper = [Diagnostics.Process]::Start($start)
        $script:Execs = @((Invoke-Bounded 'Trace-GadgetExec -Local -Duration 2').Output | Where-Object { $_ -is [Gadget.ExecEvent] -and $_.Args -contains $Marker })
        $script:Opens = @((Invoke-Bounded "Trace-GadgetOpen -Local -Path '$directory/*' -Duration 2").Output | Where-Object { $_ -is [Gadget.OpenEvent] })

        function Get-Rendered {
            param($Events)
            # What a terminal would receive: tables at the default width and wide enough to hold every column whole, and lists.
            [pscustomobject]@{
                Table = $Events | Format-Table | Out-String
                WideTable = $Events | Format-Table | Out-String -Width 400
                List = $Events | Format-List | Out-String
            }
        }
        # Every C0 control but the line breaks Out-String itself writes, every C1 control and DEL.
        $script:RawControl = '[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]'
    }

    AfterAll {
        if ($script:Looper -and -not $Looper.HasExited) { $Looper.Kill(); $Looper.WaitForExit() }
        $env:GADGET_AGENT_SOCKET = Join-Path $Scratch 'none/agent.sock'
        Stop-TestAgent $script:Agent
    }

    It 'traced the hostile exec and open' {
        $Execs.Count | Should -BeGreaterThan 0
        $Opens.Count | Should -BeGreaterThan 0
    }

    It 'properties keep the raw text for scripts' {
        $Execs[0].Args | Should -Be (@($HostileProgram, $Marker) + $Sequences)
        $Execs[0].Comm | Should -BeExactly "t$([char]27)[2J$([char]7)"
        $Execs[0].ExePath | Should -BeExactly $HostileProgram
        $Opens.Path | Should -Contain $HostileFile
    }

    It 'an exec event''s <View> shows the escapes visibly and no control character raw' -ForEach @(
        @{ View = 'Table' }, @{ View = 'WideTable' }, @{ View = 'List' }
    ) {
        $text = (Get-Rendered $Execs[0]).$View
        $text | Should -Not -Match $RawControl
        $text | Should -Match ([regex]::Escape('t\e[2J\x07'))
        if ($View -ne 'Table') {
            foreach ($visible in '\e]0;owned\x07', '\e[2J', '\e[1A\e[2K', '\e]8;;http://evil.test/\e\link\e]8;;\e\', '\x9b31m', 'x\x7f') {
                $text | Should -Match ([regex]::Escape($visible))
            }
        }
    }

    It 'an open event''s <View> shows the escapes visibly and no control character raw' -ForEach @(
        @{ View = 'Table' }, @{ View = 'WideTable' }, @{ View = 'List' }
    ) {
        $text = (Get-Rendered ($Opens | Where-Object Path -eq $HostileFile | Select-Object -First 1)).$View
        $text | Should -Not -Match $RawControl
        if ($View -eq 'List') {
            $text | Should -Match ([regex]::Escape('f\e]0;owned\x07\e[2J\e[1A\e[2K\x9bx'))
        }
    }

    It 'ToString() escapes as the views do' {
        "$($Execs[0])" | Should -Not -Match $RawControl
        "$($Execs[0])" | Should -Match ([regex]::Escape('\e]0;owned\x07'))
    }

    It 'the views fit in 120 columns' {
        foreach ($line in ((Get-Rendered $Execs[0]).Table -split "`n") + ((Get-Rendered $Opens[0]).Table -split "`n")) {
            $line.TrimEnd().Length | Should -BeLessOrEqual 120
        }
    }
}

Describe 'Concurrent traces beyond the agent''s limit' -Skip:$SkipKernel {
    BeforeAll {
        $script:Agent = Start-TestAgent -ModulePath $ModulePath -ExtraArguments '--max-traces', '2'
        $env:GADGET_AGENT_SOCKET = $Agent.Socket
        $script:Jobs = foreach ($i in 1, 2) {
            Start-ThreadJob -ArgumentList $ModulePath, $Agent.Socket {
                param($ModulePath, $Socket)
                Import-Module (Join-Path $ModulePath 'Gadget.psd1')
                $env:GADGET_AGENT_SOCKET = $Socket
                Trace-GadgetExec -Local -Duration 8 -Comm 'gadget-none'
            }
        }
        $script:BothRunning = Wait-Condition { (Get-ExecProgramCount -ProcessId $Agent.Process.Id) -ge 2 } -Timeout '00:00:15'
        $script:Refused = Invoke-Bounded 'Trace-GadgetExec -Local -Duration 1' 
    }

    AfterAll {
        $Jobs | Stop-Job -PassThru | Remove-Job -Force
        $env:GADGET_AGENT_SOCKET = Join-Path $Scratch 'none/agent.sock'
        Stop-TestAgent $script:Agent
    }

    It 'two traces run at once' {
        $BothRunning | Should -BeTrue
    }

    It 'a third is refused at once with TooManyTraces (ResourceUnavailable)' {
        $Refused.Error.FullyQualifiedErrorId | Should -BeExactly 'TooManyTraces,Gadget.Commands.TraceExecCommand'
        $Refused.Error.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        $Refused.Error.Exception.Message | Should -Match '2 traces'
        $Refused.Error.Exception.Message | Should -Match '--max-traces'
        $Refused.Elapsed | Should -BeLessThan ([timespan]::FromSeconds(5))
    }

    It 'the next trace runs once the others have ended' {
        $null = $Jobs | Wait-Job -Timeout 30
        { Trace-GadgetExec -Local -Duration 1 -ErrorAction Stop } | Should -Not -Throw
    }
}

Describe 'An agent that never answers' -Skip:$SkipKernel {
    Context 'stopped with SIGSTOP before the command' {
        BeforeAll {
            $script:Agent = Start-TestAgent -ModulePath $ModulePath
            $env:GADGET_AGENT_SOCKET = $Agent.Socket
            & /bin/kill -STOP $Agent.Process.Id
            $script:Run = Invoke-Bounded 'Trace-GadgetExec -Local -Duration 2' 
            & /bin/kill -CONT $Agent.Process.Id
        }

        AfterAll {
            $env:GADGET_AGENT_SOCKET = Join-Path $Scratch 'none/agent.sock'
            Stop-TestAgent $script:Agent
        }

        It 'ends the command with AgentUnresponsive within about 10 s' {
            Write-Host ('    the command ended {0:N2} s after it started' -f $Run.Elapsed.TotalSeconds)
            $Run.Error.FullyQualifiedErrorId | Should -BeExactly 'AgentUnresponsive,Gadget.Commands.TraceExecCommand'
            $Run.Error.CategoryInfo.Category | Should -Be 'OperationTimeout'
            $Run.Error.TargetObject | Should -BeExactly $Agent.Socket
            $Run.Error.Exception.Message | Should -Match 'SIGSTOP'
            $Run.Elapsed | Should -BeLessThan ([timespan]::FromSeconds(15))
        }
    }

    Context 'stopped with SIGSTOP while it streams' {
        BeforeAll {
            $script:Agent = Start-TestAgent -ModulePath $ModulePath
            $shell = [powershell]::Create()
            try {
                $null = $shell.AddScript('param($Module, $Socket) Import-Module $Module; $env:GADGET_AGENT_SOCKET = $Socket; Trace-GadgetExec -Local -Duration 120 -Statistics').
                    AddArgument((Join-Path $ModulePath 'Gadget.psd1')).AddArgument($Agent.Socket)
                $output = [Management.Automation.PSDataCollection[psobject]]::new()
                $pending = $shell.BeginInvoke([Management.Automation.PSDataCollection[psobject]]$null, $output)
                $script:Attached = Wait-Condition { (Get-ExecProgramCount -ProcessId $Agent.Process.Id) -ge 1 } -Timeout '00:00:15'
                Start-Sleep -Milliseconds 500
                & /bin/kill -STOP $Agent.Process.Id
                $clock = [Diagnostics.Stopwatch]::StartNew()
                $script:Ended = $pending.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(30))
                $script:EndedAfter = $clock.Elapsed
                if (-not $Ended) { $shell.Stop() }
                $script:Errors = @($shell.Streams.Error)
            }
            finally {
                & /bin/kill -CONT $Agent.Process.Id
                $shell.Dispose()
            }
        }

        AfterAll {
            Stop-TestAgent $script:Agent
        }

        It 'ends the trace with AgentUnresponsive within about 10 s, not after its 120 s' {
            $Attached | Should -BeTrue
            Write-Host ('    the trace ended {0:N2} s after the agent was stopped' -f $EndedAfter.TotalSeconds)
            $Ended | Should -BeTrue
            $EndedAfter | Should -BeLessThan ([timespan]::FromSeconds(15))
            $Errors.Count | Should -Be 1
            $Errors[0].FullyQualifiedErrorId | Should -BeExactly 'AgentUnresponsive,Gadget.Commands.TraceExecCommand'
        }
    }

    Context 'a socket that accepts and stays silent' {
        BeforeAll {
            $path = Join-Path $Scratch 'silent.sock'
            $script:Silent = [Net.Sockets.Socket]::new([Net.Sockets.AddressFamily]::Unix, [Net.Sockets.SocketType]::Stream, [Net.Sockets.ProtocolType]::Unspecified)
            $Silent.Bind([Net.Sockets.UnixDomainSocketEndPoint]::new($path))
            $Silent.Listen(16)
            $env:GADGET_AGENT_SOCKET = $path
            $script:Trace = Invoke-Bounded 'Trace-GadgetExec -Local -Duration 2'
            $script:Generic = Invoke-Bounded 'Start-GadgetTrace -Local -Gadget exec -Duration 2' 
        }

        AfterAll {
            $Silent.Dispose()
            $env:GADGET_AGENT_SOCKET = Join-Path $Scratch 'none/agent.sock'
        }

        It '<Name> ends with AgentUnresponsive within about 10 s' -ForEach @(
            @{ Name = 'Trace-GadgetExec'; Run = 'Trace'; Type = 'Gadget.Commands.TraceExecCommand' }
            @{ Name = 'Start-GadgetTrace'; Run = 'Generic'; Type = 'Gadget.Commands.StartGadgetTraceCommand' }
        ) {
            $result = Get-Variable -Name $Run -Scope Script -ValueOnly
            Write-Host ('    {0} ended after {1:N2} s' -f $Name, $result.Elapsed.TotalSeconds)
            $result.Error.FullyQualifiedErrorId | Should -BeExactly "AgentUnresponsive,$Type"
            $result.Error.CategoryInfo.Category | Should -Be 'OperationTimeout'
            $result.Elapsed | Should -BeLessThan ([timespan]::FromSeconds(15))
        }
    }
}

Describe 'An unusable GADGET_AGENT_SOCKET' {
    BeforeAll {
        $script:RegularFile = Join-Path $Scratch 'regular'
        Set-Content $RegularFile 'not a socket'
        # What an agent that died leaves behind: a socket file nobody listens on. (.NET removes the
        # file of a socket it bound when it closes it; a second link to it stays.)
        $bound = Join-Path $Scratch 'bound.sock'
        $socket = [Net.Sockets.Socket]::new([Net.Sockets.AddressFamily]::Unix, [Net.Sockets.SocketType]::Stream, [Net.Sockets.ProtocolType]::Unspecified)
        $socket.Bind([Net.Sockets.UnixDomainSocketEndPoint]::new($bound))
        $null = New-Item -ItemType HardLink -Path (Join-Path $Scratch 'dead.sock') -Target $bound
        $socket.Dispose()
    }

    AfterEach {
        $env:GADGET_AGENT_SOCKET = Join-Path $Scratch 'none/agent.sock'
    }

    It 'the dead socket is a socket file' {
        (Get-Item (Join-Path $Scratch 'dead.sock')).UnixMode | Should -BeLike 's*'
    }

    It 'a <Kind> is an AgentSocketUnusable error, not a private agent in its place' -ForEach @(
        @{ Kind = 'regular file'; Path = 'regular'; Says = 'regular file' }
        @{ Kind = 'directory'; Path = '.'; Says = 'directory' }
        @{ Kind = 'dead socket'; Path = 'dead.sock'; Says = 'no agent accepts' }
    ) {
        $env:GADGET_AGENT_SOCKET = [IO.Path]::GetFullPath((Join-Path $Scratch $Path))
        $record = Get-ThrownError { Trace-GadgetExec -Local -Duration 1 }
        $record.FullyQualifiedErrorId | Should -BeExactly 'AgentSocketUnusable,Gadget.Commands.TraceExecCommand'
        $record.CategoryInfo.Category | Should -Be 'ConnectionError'
        $record.Exception.Message | Should -Match ([regex]::Escape($env:GADGET_AGENT_SOCKET))
        $record.Exception.Message | Should -Match $Says
        $record.ErrorDetails.RecommendedAction | Should -Match 'GADGET_AGENT_SOCKET'
    }
}

Describe 'Parameter edges' {
    It '-Uid 4294967295 is refused instead of tracing every user' {
        $record = Get-ThrownError { Trace-GadgetExec -Local -Uid 4294967295 -Duration 1 }
        $record.FullyQualifiedErrorId | Should -BeExactly 'ParameterArgumentValidationError,Gadget.Commands.TraceExecCommand'
        $record.Exception.Message | Should -Match 'no process runs as it'
    }

    It '-Uid 4294967294 is a user id like any other' {
        $record = Get-ThrownError { Trace-GadgetExec -Local -Uid 4294967294 -Namespace 'UPPER_case' -Duration 1 }
        $record.FullyQualifiedErrorId | Should -BeExactly 'InvalidNamespace,Gadget.Commands.TraceExecCommand' -Because 'the -Uid passed binding'
    }

    It '-Comm of 16 bytes says the kernel keeps 15' {
        $record = Get-ThrownError { Trace-GadgetExec -Local -Comm 'abcdefghijklmnop' -Duration 1 }
        $record.FullyQualifiedErrorId | Should -BeExactly 'ParameterArgumentValidationError,Gadget.Commands.TraceExecCommand'
        $record.Exception.Message | Should -Match 'kernel keeps only the first 15 bytes'
        $record.Exception.Message | Should -Match "'abcdefghijklmno'"
    }

    It '-Comm counts bytes, not characters' {
        # Eight characters of two bytes each: 16 bytes.
        $record = Get-ThrownError { Trace-GadgetExec -Local -Comm ('é' * 8) -Duration 1 }
        $record.FullyQualifiedErrorId | Should -BeExactly 'ParameterArgumentValidationError,Gadget.Commands.TraceExecCommand'
    }

    It '-Duration <Label> is a transformation error' -ForEach @(
        @{ Label = '[timespan]::MaxValue'; Value = [timespan]::MaxValue }
        @{ Label = '50 days'; Value = '50.00:00:00' }
        @{ Label = '1e300 seconds'; Value = 1e300 }
    ) {
        $value = $Value
        $record = Get-ThrownError { Trace-GadgetExec -Local -Duration $value }
        $record.FullyQualifiedErrorId | Should -BeExactly 'ParameterArgumentTransformationError,Gadget.Commands.TraceExecCommand'
        $record.Exception.Message | Should -Match 'at most 49 days'
    }

    It '-Namespace <Value> is refused: not a name Kubernetes allows' -ForEach @(
        @{ Value = 'UPPER_case' }
        @{ Value = '-lead' }
        @{ Value = ('a' * 64) }
    ) {
        $value = $Value
        $record = Get-ThrownError { Trace-GadgetExec -Local -Namespace $value -Duration 1 }
        $record.FullyQualifiedErrorId | Should -BeExactly 'InvalidNamespace,Gadget.Commands.TraceExecCommand'
        $record.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $record.TargetObject | Should -BeExactly $value
    }

    It '-Selector <Label> is refused' -ForEach @(
        @{ Label = 'with an empty key'; Selector = @{ '' = 'web' } }
        @{ Label = 'with a space in a value'; Selector = @{ app = 'my web' } }
        @{ Label = 'with an upper-case prefix'; Selector = @{ 'Example.com/app' = 'web' } }
    ) {
        $selector = $Selector
        $record = Get-ThrownError { Get-GadgetContainer -Local -Selector $selector }
        $record.FullyQualifiedErrorId | Should -BeExactly 'InvalidSelector,Gadget.Commands.GetGadgetContainerCommand'
        $record.CategoryInfo.Category | Should -Be 'InvalidArgument'
    }
}

Describe 'A -Path pattern that cannot be parsed' -Skip:$SkipKernel {
    BeforeAll {
        $script:Agent = Start-TestAgent -ModulePath $ModulePath
        $env:GADGET_AGENT_SOCKET = $Agent.Socket
    }

    AfterAll {
        $env:GADGET_AGENT_SOCKET = Join-Path $Scratch 'none/agent.sock'
        Stop-TestAgent $script:Agent
    }

    It 'Trace-GadgetOpen -Path /tmp/[ is InvalidPathPattern, with no internal regular expression' {
        $record = Get-ThrownError { Trace-GadgetOpen -Local -Path '/tmp/[' -Duration 1 }
        $record.FullyQualifiedErrorId | Should -BeExactly 'InvalidPathPattern,Gadget.Commands.TraceOpenCommand'
        $record.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $record.Exception.Message | Should -Match "no '\]' closes"
        $record.Exception.Message | Should -Not -Match '\^|\.\*'
    }

    It 'Start-GadgetTrace -Gadget open -Parameter @{ path = ''/['' } is InvalidPathPattern too' {
        $record = Get-ThrownError { Start-GadgetTrace -Local -Gadget open -Parameter @{ path = '/[' } -Duration 1 }
        $record.FullyQualifiedErrorId | Should -BeExactly 'InvalidPathPattern,Gadget.Commands.StartGadgetTraceCommand'
    }

    It 'a bracket written `[ is a literal bracket' {
        { Trace-GadgetOpen -Local -Path '/tmp/`[x`]' -Duration 1 -ErrorAction Stop } | Should -Not -Throw
    }
}
