; arith: one of each operand form of ADD, SUB, MUL and DIV, and DIV by zero.
LOADI 200
POP A         ; A = 200
LOADI 100
ADD A         ; ACC = sat(100 + 200) = 255
SUB A B       ; A = sat(A - B)
MUL A A C     ; C = sat(A * A)
LOADI 7
DIV D         ; ACC = 7 / D = 255 when D = 0
SWAP A        ; ACC <-> A
XOR A B C     ; C = A ^ B
HLT
