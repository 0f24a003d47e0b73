; countdown: copy ACC into A, then count A down, doubling B each step.
; Try: bytesim run examples/countdown.asm --acc 3 --reg B=1
POP A        ; A <- ACC
DEC A
SHL B
DEC A
SHL B
DEC A        ; DEC saturates at 0
SHL B
MOV C B      ; C <- B
HLT
