"""The grammar of the ADT query language, for lark's LALR(1) parser.

Written from the language reference (SELECT, FROM, JOIN, MATCH, WHERE clauses, operators,
functions, reserved keywords), not from any implementation. Keywords are case-insensitive;
names (collections, properties, relationships) are case-sensitive, as in ADT.

Choices the reference leaves open:

- Function names are not keywords: any ``NAME(...)`` parses as a call, so that an unknown
  function is refused by name (``graph.adt_query._scope``) instead of as a syntax error.
- The lexer is contextual: a keyword is only a keyword where the grammar can take it, so
  ``T.top`` or ``T.select`` need no escape after a dot. ``[[name]]`` escapes a reserved
  word anywhere (ADT's only way). Keywords end at a word boundary (``ORDER`` is never
  ``OR`` then ``DER``) and win over a name where both could be read.
- ``-[has|includes*..3]-`` (names without the colon, as one example of the reference
  writes them) is read as relationship names; a single bare name in brackets is a
  relationship variable, as the reference defines it.
"""

GRAMMAR = r"""
start: query

query: select from_clause join* match? where?

select: SELECT [top] [projection]
top: TOP "(" INT ")"
?projection: STAR                        -> star
           | COUNT "(" ")"               -> count
           | column ("," column)*        -> columns
column: ref (AS? name)?

from_clause: FROM COLLECTION (AS? name)?
join: JOIN name RELATED name "." name (AS? name)?

match: MATCH node (edge node)*
node: "(" [name] ")"
edge: "-" "[" rel "]" "->"               -> edge_out
    | "<-" "[" rel "]" "-"               -> edge_in
    | "-" "[" rel "]" "-"                -> edge_any
rel: [name] [":" rel_names] [hops]      -> rel
   | name ("|" name)+ hops?              -> rel_bare_names
rel_names: name ("|" name)*
hops: "*" INT                            -> hops_exact
    | "*" INT ".." INT                   -> hops_range
    | "*" ".." INT                       -> hops_upto

where: WHERE condition
?condition: disjunction
?disjunction: conjunction (OR conjunction)*
?conjunction: negation (AND negation)*
?negation: NOT negation                  -> negate
         | predicate
?predicate: operand COMPARE operand      -> compare
          | operand IN values            -> member
          | operand NIN values           -> not_member
          | operand NOT IN values        -> not_member
          | operand                      -> bare
          | "(" condition ")"            -> group
?operand: ref | literal | call
call: NAME "(" [operand ("," operand)*] ")"
ref: name ("." name)*
?name: NAME | ESCAPED | SYSTEM
values: "[" [literal ("," literal)*] "]"
literal: STRING                          -> string
       | NUMBER                          -> number
       | TRUE                            -> true
       | FALSE                           -> false
       | NULL                            -> null

SELECT.2: /SELECT\b/i
TOP.2: /TOP\b/i
COUNT.2: /COUNT\b/i
FROM.2: /FROM\b/i
COLLECTION.2: /(DIGITALTWINS|RELATIONSHIPS)\b/i
AS.2: /AS\b/i
JOIN.2: /JOIN\b/i
RELATED.2: /RELATED\b/i
MATCH.2: /MATCH\b/i
WHERE.2: /WHERE\b/i
AND.2: /AND\b/i
OR.2: /OR\b/i
NOT.2: /NOT\b/i
IN.2: /IN\b/i
NIN.2: /NIN\b/i
TRUE.2: /TRUE\b/i
FALSE.2: /FALSE\b/i
NULL.2: /NULL\b/i
STAR: "*"
COMPARE: "=" | "!=" | "<=" | ">=" | "<" | ">"

NAME: /[A-Za-z_][A-Za-z0-9_]*/
SYSTEM: /\$[A-Za-z_][A-Za-z0-9_]*/
ESCAPED: /\[\[[A-Za-z_][A-Za-z0-9_]*\]\]/
INT: /[0-9]+/
NUMBER: /-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/
STRING: /'(\\.|[^'\\])*'/ | /"(\\.|[^"\\])*"/

%import common.WS
%ignore WS
"""
