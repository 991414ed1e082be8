#include "check.h"
int main(void){CHECK(1,"placeholder");return check_summary();}
